"""The report pipeline: from a stored submission to its analysis and its PDF reports.

``pipeline`` holds the one object that does the work (the loaded instrument bank, content,
rules, models and report settings); ``jobs`` renders a report and stores it sealed, in a
thread pool or in the request; ``queue`` and ``worker`` run the same jobs on Celery with
Redis. No Flask: the web app, the workers and the command line share this code.
"""
