"""An asyncio echo server (the documentation's TCP server, streams): one thread, an event loop
on epoll; each read is answered with b"hello".

    python asyncio_server.py PORT
"""

import asyncio
import sys


async def handle(reader, writer):
    while await reader.read(4096):
        writer.write(b"hello")  #@ sendto
    writer.close()  #@ close


async def main():
    port = int(sys.argv[1])
    server = await asyncio.start_server(handle, "127.0.0.1", port)  #@ socket bind listen
    async with server:
        await server.serve_forever()  #@ accept4


asyncio.run(main())  #@ epoll_create1 epoll_wait epoll_ctl recvfrom accept4 close sendto ioctl
