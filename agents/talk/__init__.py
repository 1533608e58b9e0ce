"""Talk: conversations between agents, their lines, and what each side takes away."""
