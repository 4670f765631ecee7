"""A launcher: starts a demo server as a child process of its own and waits for it (iosim must
stop the child too).

    python spawns_server.py SERVER PORT
"""

import subprocess
import sys
from pathlib import Path

server = Path(__file__).with_name(sys.argv[1])
subprocess.run([sys.executable, str(server), sys.argv[2]], check=False)
