"""Skill cards: the catalogue of coping skills (see ``cards.toml``) and its typed loader."""
