# herald/curve.rb -- CURVE keys from czmq certificate files (herald-keygen), applied to ffi-rzmq sockets.
require "ffi-rzmq"
require_relative "errors"

module Herald
  # A broker run with --curve-allow admits only the keys whose
  # certificate it holds. herald-keygen writes them in czmq's ZPL format:
  #
  #   metadata
  #       name = "rails"
  #       role = "producer"
  #   curve
  #       public-key = "<40 characters of Z85>"
  #       secret-key = "<40 characters of Z85>"      (NAME.cert_secret only)
  #
  # libzmq takes the keys in that Z85 text form, so nothing is decoded here.
  module Curve
    # This process's key pair and the broker's public key, ready for apply.
    Keys = Struct.new(:public_key, :secret_key, :server_key)

    Z85_RE = /\A[0-9a-zA-Z.\-:+=^!\/*?&<>()\[\]{}@%$#]{40}\z/

    module_function

    # Reads cert (NAME.cert; NAME.cert_secret beside it is read first, as
    # czmq's zcert_load does, so either may be named) and the server's
    # public certificate. Raises ConfigError naming the file on any problem.
    def load(cert, server)
      mine = read_cert(cert, need_secret: true)
      theirs = read_cert(server, need_secret: false)
      Keys.new(mine["public-key"], mine["secret-key"], theirs["public-key"])
    end

    # Sets the CURVE client options on an ffi-rzmq socket (before connect).
    def apply(sock, keys)
      [[ZMQ::CURVE_SERVERKEY, keys.server_key, "CURVE_SERVERKEY"],
       [ZMQ::CURVE_PUBLICKEY, keys.public_key, "CURVE_PUBLICKEY"],
       [ZMQ::CURVE_SECRETKEY, keys.secret_key, "CURVE_SECRETKEY"]].each do |opt, value, name|
        rc = sock.setsockopt(opt, value)
        next if ZMQ::Util.resultcode_ok?(rc)

        raise SocketError, "herald: #{name} failed: #{ZMQ::Util.error_string} (is libzmq built with CURVE?)"
      end
      sock
    end

    # The "curve" section of a ZPL certificate as { "public-key" => ..., "secret-key" => ... }.
    def parse(text)
      section = nil
      keys = {}
      text.each_line do |raw|
        # Z85 may contain "#", so only whole-line comments are dropped
        line = raw.rstrip
        next if line.strip.empty? || line.lstrip.start_with?("#")

        unless line.start_with?(" ", "\t")
          section = line.strip
          next
        end
        next unless section == "curve"

        m = line.strip.match(/\A([A-Za-z0-9_\-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))/)
        keys[m[1]] = m[2] || m[3] || m[4] if m
      end
      keys
    end

    def read_cert(path, need_secret:)
      raise ConfigError, "herald: CURVE certificate path is empty" if path.to_s.empty?

      secret_path = "#{path}_secret"
      file = need_secret && File.exist?(secret_path) ? secret_path : path
      keys = begin
        parse(File.read(file))
      rescue SystemCallError => e
        raise ConfigError, "herald: cannot read CURVE certificate #{file}: #{e.message}"
      end
      unless Z85_RE.match?(keys["public-key"].to_s)
        raise ConfigError, "herald: #{file} has no valid public-key (a herald-keygen certificate?)"
      end
      if need_secret && !Z85_RE.match?(keys["secret-key"].to_s)
        raise ConfigError, "herald: #{file} holds no secret key (is #{secret_path} missing or unreadable?)"
      end
      keys
    end
  end
end
