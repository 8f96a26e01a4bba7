import sys

from verification.cli import main

sys.exit(main())
