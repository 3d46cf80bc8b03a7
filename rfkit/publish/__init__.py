"""Publishing what the notebooks found: run them into a report (report, report_index, results),
regenerate the README's measured blocks (readme) and stamp every result with where it came from
(provenance). Import the modules themselves: this package imports nothing eagerly, so the lab can
use provenance without pulling in papermill."""
