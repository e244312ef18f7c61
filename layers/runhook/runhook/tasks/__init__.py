"""Task definitions: the schema of saved tasks and their validation on save."""
