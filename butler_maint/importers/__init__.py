"""Importers: content other tools wrote, translated into butler-maint checklists.

Pure functions of a file's text: they return the checklist as text and a note per key
they could not translate; writing files is the CLI's business.
"""
