# test_config.rb -- settings sources: secret_file, Herald.defaults, Config.settings (no processes).
require_relative "test_helper"
require "tmpdir"

class TestConfig < Minitest::Test
  def teardown
    Herald.defaults = {}
    Herald.reset!
  end

  def test_secret_file_like_the_gateway
    Dir.mktmpdir do |dir|
      path = File.join(dir, "secret")
      File.write(path, "s3cret\r\n")
      cfg = Herald::Config.new("HERALD_SECRET_FILE" => path).validate!
      assert_equal "s3cret", cfg.secret, "one trailing newline (CRLF too) is dropped, as herald-gateway does"
      cfg = Herald::Config.new("HERALD_SECRET_FILE" => path, "HERALD_SECRET" => "direct").validate!
      assert_equal "direct", cfg.secret, "an explicit secret wins over the file"
      missing = Herald::Config.new("HERALD_SECRET_FILE" => File.join(dir, "nope"))
      err = assert_raises(Herald::ConfigError, "a missing secret file fails at configure") { missing.validate! }
      assert_includes err.message, "nope", "the error names the file"
    end
  end

  def test_defaults_are_the_start_of_every_configure
    Herald.defaults = { ingest: "tcp://10.9.9.9:1", on_full: "drop", gateway_url: "wss://push.example/ws" }
    cfg = Herald.configure { |c| c.send_hwm = 5 }
    assert_equal ["tcp://10.9.9.9:1", :drop, "wss://push.example/ws", 5],
                 [cfg.ingest, cfg.on_full, cfg.gateway_url, cfg.send_hwm],
                 "configure starts from the defaults (on_full from a YAML string) and the block adds to them"
    assert_raises(Herald::ConfigError, "an unknown setting is refused") { Herald.defaults = { ingset: "x" } }
    assert_includes Herald::Config.settings, :curve_server, "Config.settings lists every setting"
  end
end
