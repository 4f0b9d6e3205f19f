"""Storage: the database tables, engines and sessions, migrations, and receipt codes.

``tables`` declares every table (called tables, not models: "model" means the scikit-learn
layer); ``database`` makes engines and sessions and runs the Alembic migrations in
``migrations/``; ``submissions`` stores, finds and deletes completed questionnaires;
``receipts`` makes the codes a visitor keeps and seals what only they may open. Functions here
add and flush; the caller (a request, a job or a command) commits once. No Flask.
"""
