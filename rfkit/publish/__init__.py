"""Publishing what the notebooks found: run them into a report (report, report_index, results),
keep the executed lessons (lessons), regenerate the README's key findings and FINDINGS.md (readme)
and stamp every result with where it came from (provenance). Import the modules themselves: this
package imports nothing eagerly, so the lab can use provenance without pulling in papermill."""
