"""Scene: what is behind the applicant (objects, screens, other people, background fingerprint)."""
