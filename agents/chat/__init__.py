"""Thread chat: answers to responders' questions in an incident thread."""
