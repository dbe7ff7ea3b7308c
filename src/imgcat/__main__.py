import sys

from imgcat.cli.app import main

sys.exit(main())
