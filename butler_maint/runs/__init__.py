"""The run core: how check, play, window and run-due plan, stop and record a run.

Every kind of run goes the same way, one direction:

    request (what, where, as whom: ``request.Target``)
      -> plan (hosts from the inventory, checklists and playbooks loaded)
      -> execute (``checklist.run_checklist_job`` over a ``checklist.Reach``;
                  ``playbooks.run_play`` for playbook steps)
      -> judge (pure, in ``checks``; waivers)
      -> record (``record.Recording``: one provenance rule, one report draft, the store)

- ``stop``: the one stop model (SIGHUP, SIGINT, SIGTERM set a flag the run looks at);
- ``request``: what every run is given;
- ``identity``: who acts (a signing key's principal, or a declared name), the signing
  policy ``report verify`` applies;
- ``checklist``: one checklist on some hosts, used by `check` and by window steps;
- ``record``: provenance and the report draft;
- ``check``, ``play``, ``window``, ``due``: the four front doors;
- ``batches``, ``approvals``, ``occurrence``: a window's pure rules, four eyes, and which
  occurrence an operator's run is for;
- ``steps``: playbook steps recorded inside a larger run (window steps, remediation);
- ``remediate``: a failed check's playbook on the hosts that failed it, then a re-check;
- ``verdict``: the ``--fail-on`` rule (which failures decide the exit code).

Nothing here prints, exits or reads the terminal: the CLI renders what a run returns.
"""
