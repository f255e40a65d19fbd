import os
import sys

print(len(sys.argv), os.path.basename(sys.argv[0]))
print(sys.argv[0] == __file__)
