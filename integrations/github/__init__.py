"""GitHub and git adapters: the real `git` CLI (git.py) and the GitHub API."""
