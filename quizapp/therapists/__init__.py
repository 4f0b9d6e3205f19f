"""The therapist side: accounts, clients, invitations, the audit log, change over time, exports.

Database steps (``accounts``, ``two_factor``, ``clients``, ``invites``, ``audit``,
``exports``) take a SQLAlchemy session, add and flush, and leave the commit to the request or
command, so a change and its audit line are saved together or not at all. ``change`` (the
Reliable Change Index and the trend chart), ``fhir`` (FHIR R4 export) and ``sdc`` (what makes
its Questionnaires score themselves) are plain Python. Every query that reads client data
filters on the therapist's id: another therapist's client is simply not found.
"""
