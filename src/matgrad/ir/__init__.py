"""The intermediate representation: hash-consed expression nodes (layer 2)."""
