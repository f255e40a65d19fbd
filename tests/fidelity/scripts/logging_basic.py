import logging

logging.warning("watch out")
logging.info("not shown")
print("logged")
