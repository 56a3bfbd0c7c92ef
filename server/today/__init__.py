"""Today and More: the patient's home screen, composed from the other domains' summaries."""
