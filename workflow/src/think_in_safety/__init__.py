"""Think in Safety workflow: the logic behind the Snakemake rules.

Every stage of the study lives in a submodule that is importable and unit-tested without
Snakemake; the rule scripts in ``workflow/scripts`` only unpack ``snakemake.*`` and call in.
"""

__version__ = "0.1.0"
