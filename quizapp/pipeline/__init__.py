"""The report pipeline: from a stored submission to its analysis and its PDF reports.

``pipeline`` holds the one object that does the work (the loaded instrument bank, content,
rules, models and report settings); ``records`` and ``stored`` keep each submission's analysis;
``jobs`` is the render queue in the database, ``renderer`` the process that drains it, and
``queue`` the same jobs on Celery with Redis (``quizapp.worker`` starts its workers). No Flask:
the web app, the renderer and the command line share this code.
"""
