"""Bridges to other libraries. Each module imports its library when it is imported, and a missing
library gives one line naming the pip extra that installs it (``pip install 'rfkit[cornac]'``).

- `rfkit.integrations.cornac`: the kit's splits as Cornac datasets, any Cornac model's full score
  matrix, and `RFRecommender`, the kit's host with RF plugged in as a Cornac model.
"""
