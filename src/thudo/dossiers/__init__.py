"""One-stop dossiers: submission, the workflow per procedure, time limits in working days."""
