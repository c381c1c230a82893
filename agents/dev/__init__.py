"""The Dev agent: suspect commits and files for a production error, and remediations."""
