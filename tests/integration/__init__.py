"""Integration tests: definitions, materializations, sensors, the portal, the command line."""
