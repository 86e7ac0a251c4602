import sys

from gdl.cli.main import main

sys.exit(main())
