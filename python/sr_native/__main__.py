import sys

try:
    from .cli import main
except ImportError as exc:  # a broken install: one line, not a traceback
    print(f"sr-native: cannot import sr_native: {exc}", file=sys.stderr)
    sys.exit(1)
except KeyboardInterrupt:
    sys.exit(130)

sys.exit(main())
