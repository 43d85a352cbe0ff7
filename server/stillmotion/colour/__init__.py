"""Colour: ICC handling, reference colour matching, the photo's look (grain, vignette)."""
