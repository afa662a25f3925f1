"""Suite files: one TOML file per suite. Installed as package data so `bench` finds them anywhere."""
