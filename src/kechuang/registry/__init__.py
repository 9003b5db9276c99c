"""Registry: organisations, people, yearly facts, qualifications, relations; import and export."""
