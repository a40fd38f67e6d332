"""The command line's commands that work on stored data (app.py parses the arguments and dispatches)."""

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
