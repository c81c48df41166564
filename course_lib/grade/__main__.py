"""``python -m course_lib.grade`` is ``course-grade``."""

import sys

from .cli import main

sys.exit(main())
