"""The landing zone: scanning, hashing, parsing, staging and cataloguing inbound files."""
