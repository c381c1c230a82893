"""`python -m bot ...` is `nightowl ...` (child processes use it: no PATH lookup)."""

from bot.cli import main

raise SystemExit(main())
