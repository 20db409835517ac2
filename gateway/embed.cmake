# embed.cmake -- turns a file into a C array (cmake -DIN=... -DOUT=... -DNAME=... -P embed.cmake).
# Also writes NAME_etag, a strong HTTP entity tag of the bytes (the first 16
# hex digits of their SHA-256, quoted), so a new build of the file gets a new tag.
file(READ "${IN}" hex HEX)
file(SHA256 "${IN}" sha)
string(SUBSTRING "${sha}" 0 16 tag)
string(LENGTH "${hex}" hex_len)
math(EXPR len "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}"
  "/* generated from ${IN} by gateway/embed.cmake; do not edit */\n"
  "static const unsigned char ${NAME}[] = {\n${bytes}0x00\n};\n"
  "static const size_t ${NAME}_len = ${len};\n"
  "static const char ${NAME}_etag[] = \"\\\"${tag}\\\"\";\n")
