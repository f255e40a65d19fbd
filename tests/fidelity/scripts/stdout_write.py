import sys

sys.stdout.write("partial ")
sys.stdout.flush()
sys.stdout.write("line\n")
sys.stderr.write("to stderr\n")
