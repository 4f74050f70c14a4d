"""Systems above hosts: the dependency graph (cycles, tiers), which hosts belong to
which system, and the diagnosis that groups a run's failures under the system most
likely to explain them. Pure functions, except ``members.load_systems`` (reads files)
and ``members.membership`` (asks the inventory)."""
