"""python -m iosim"""

import sys

from iosim.cli import main

sys.exit(main())
