"""The certificate's and the web pages' templates and stylesheet. Shipped in
the wheel as the package `ecert_templates` (setup.py maps this folder to it);
code finds them through verifier.resources.templates_dir()."""
