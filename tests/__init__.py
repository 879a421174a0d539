"""The test suite: unit tests of the domain and parsers, integration tests through Dagster."""
