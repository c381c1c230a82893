"""`python -m bot.cli ...` is `nightowl ...`."""

from bot.cli import main

raise SystemExit(main())
