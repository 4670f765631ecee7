"""The scenario keys of the lessons past Figure 6.6 ([server], [client], [kernel],
connections.corrupt and connect_ms): every bad value is refused with the file, the key and
the line; good ones read back from the TOML iosim writes."""

from __future__ import annotations

import pytest

from iosim import scenario
from iosim.scenario import ScenarioError

TCP = 'protocol = "tcp"\nmodels = ["blocking"]\n'
ONE = "[[connections]]\nsends = [[1.0, 100]]\n"


def refusal(text: str) -> str:
    with pytest.raises(ScenarioError) as exc:
        scenario.parse(text, "lesson.toml")
    return str(exc.value)


@pytest.mark.parametrize(("text", "message"), [
    (TCP + "[server]\nworkers = 2\n" + ONE,
     "lesson.toml, line 4: server.workers: needs a listening socket: server.accept = true"),
    ('protocol = "udp"\n[server]\naccept = true\n' + ONE,
     'lesson.toml, line 3: server.accept: only a TCP server listens, accepts and has replies '
     'held in a send buffer (protocol = "tcp")'),
    (TCP + "[server]\naccept = 1\n" + ONE,
     "lesson.toml, line 4: server.accept: must be true or false, not 1"),
    (TCP + "[server]\naccept = true\nworkers = 0\n" + ONE,
     "lesson.toml, line 5: server.workers: must be at least 1, not 0"),
    (TCP + "[server]\naccept = true\nworkers = 65\n" + ONE,
     "lesson.toml, line 5: server.workers: must be at most 64, not 65"),
    (TCP + "[server]\nreply_bytes = -1\n" + ONE,
     "lesson.toml, line 4: server.reply_bytes: must not be negative (-1)"),
    (TCP + "[server]\nsend_buffer_bytes = 0\nreply_bytes = 10\n" + ONE,
     "lesson.toml, line 4: server.send_buffer_bytes: must be at least 1, not 0"),
    (TCP + "[server]\nbacklog = 5\n" + ONE,
     "lesson.toml, line 4: server.backlog: unknown key (expected one of: accept, "
     "epoll_exclusive, reply_bytes, reuseport, send_buffer_bytes, workers)"),
    (TCP + "[server]\nreply_bytes = 10\n[client]\nread_bytes = 5\n" + ONE,
     "lesson.toml, line 5: client.read_every_ms: a slow reader needs both read_bytes and "
     "read_every_ms above 0"),
    (TCP + "[client]\nread_bytes = 5\nread_every_ms = 1.0\n" + ONE,
     "lesson.toml, line 4: client.read_bytes: there are no replies to read: set "
     "server.reply_bytes"),
    ('[kernel]\nudp_checksum = "lazy"\n' + ONE,
     "lesson.toml, line 2: kernel.udp_checksum: must be one of linux, at-read, not 'lazy'"),
    (TCP + "[[connections]]\nsends = [[1.0, 100]]\ncorrupt = [0]\n",
     "lesson.toml, line 5: connections.corrupt: only UDP datagrams are dropped for a bad "
     "checksum (TCP sends the segment again)"),
    ("[[connections]]\nsends = [[1.0, 100], [2.0, 5]]\ncorrupt = [2]\n",
     "lesson.toml, line 3: connections.corrupt: send 2 does not exist (this connection has 2 "
     "sends, 0 to 1)"),
    ("[[connections]]\nsends = [[1.0, 100], [2.0, 5]]\ncorrupt = [1, 1]\n",
     "lesson.toml, line 3: connections.corrupt: a send is marked twice"),
    ("[[connections]]\nsends = [[1.0, 100], [2.0, 5]]\ncorrupt = 1\n",
     "lesson.toml, line 3: connections.corrupt: must be a list of send indexes (0 is the "
     "first send), not 1"),
    ("[[connections]]\nsends = [[1.0, 100]]\ncorrupt = [0]\n",
     "lesson.toml, line 3: connections.corrupt: every datagram is corrupt: the server would "
     "have nothing to handle"),
    (TCP + "[[connections]]\nsends = [[1.0, 100]]\nconnect_ms = 0.5\n",
     "lesson.toml, line 5: connections.connect_ms: a client connects at a time of its own "
     "only with server.accept = true"),
    (TCP + "[server]\naccept = true\n[[connections]]\nsends = [[1.0, 100]]\nconnect_ms = 2.0\n",
     "lesson.toml, line 7: connections.connect_ms: the client connects at 2.0 ms, after its "
     "first send (1.0 ms)"),
    ('protocol = "tcp"\nmodels = ["aio"]\n[server]\nreply_bytes = 10\n' + ONE,
     "lesson.toml, line 2: models: aio is not modelled with this [server] table (reply: "
     "blocking, nonblocking, poll, epoll)"),
    (TCP + "idle_connections = 3\n[server]\naccept = true\n" + ONE,
     "lesson.toml, line 3: idle_connections: connections that never send never connect "
     "either with server.accept: leave them out"),
    (TCP + "[server]\nreply_bytes = 67108864\n[[connections]]\ncount = 20\nbytes = 10\n",
     "lesson.toml, line 4: server.reply_bytes: the replies add up to more than "
     "1,073,741,824 bytes"),
    (TCP + "[server]\nreply_bytes = 67108864\nsend_buffer_bytes = 3\n" + ONE,
     "lesson.toml, line 5: server.send_buffer_bytes: sending the replies through a 3-byte "
     "buffer takes more than 100,000 calls"),
    (TCP + "[server]\nreply_bytes = 67108864\n[client]\nread_bytes = 1\nread_every_ms = 1\n"
     + ONE, "lesson.toml, line 6: client.read_bytes: reading the replies 1 bytes at a time "
     "takes more than 100,000 reads"),
])
def test_bad_values_are_refused_with_file_key_and_line(text: str, message: str) -> None:
    assert refusal(text) == message


def test_a_dict_is_refused_as_a_file_is() -> None:
    data = {"protocol": "tcp", "server": {"workers": 3},
            "connections": [{"sends": [[1.0, 10]]}]}
    with pytest.raises(ScenarioError, match="server.workers: needs a listening socket"):
        scenario.from_dict(data)


@pytest.mark.parametrize("name", ["edge-triggered", "select-lies", "send-side",
                                  "thundering-herd", "sigio-tcp"])
def test_the_lessons_read_back(name: str) -> None:
    sc = scenario.load(name)
    again = scenario.parse(scenario.dumps(sc), "again.toml")
    assert again == sc
    assert again.connect_ms == sc.connect_ms
    assert [[s.corrupt for s in c] for c in again.connections] == \
        [[s.corrupt for s in c] for c in sc.connections]
    assert scenario.from_dict(scenario.to_dict(sc)) == sc


def test_a_classic_scenario_s_dict_has_no_new_tables() -> None:
    data = scenario.to_dict(scenario.load("one-datagram"))
    assert not {"server", "client", "kernel"} & set(data)
    assert "corrupt" not in data["connections"][0]
