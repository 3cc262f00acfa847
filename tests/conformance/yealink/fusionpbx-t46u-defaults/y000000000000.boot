#!version:1.0.0.1
## The header above must appear as-is in the first line

include:config "y000000000108.cfg"
include:config "805ec0f0a1b2.cfg"

overwrite_mode = 
