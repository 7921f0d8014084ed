from issuer.cli import main

main(prog_name="ecert")
