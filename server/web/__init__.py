"""Cross-cutting web plumbing: templates, forms, headers, logging and static files."""
