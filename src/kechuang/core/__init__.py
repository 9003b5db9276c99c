"""Cross-cutting pieces: auth principal, permissions, audit log, errors, i18n, pagination, identifiers."""
