# test/live_helper.rb -- the fixture app as a real server (bin/serve, RAILS_ENV=live) beside a real broker and gateway.
require "minitest/autorun"
require "net/http"
require "json"
require "tmpdir"
require "fileutils"
require_relative "../../herald_harness"

module LiveRails
  APP_ROOT = File.expand_path("..", __dir__)

  # The fixture app booted in its own process and served over HTTP on a
  # free loopback port. Its Herald settings come from config/herald.yml's
  # live section, filled from the APP_HERALD_* variables given here: no
  # HERALD_* variable reaches it, so a delivery proves herald.yml was read.
  class App < HeraldHarness::Child
    attr_reader :base

    # broker: a HeraldHarness::Broker; gateway: its HeraldHarness::Gateway;
    # secret_file: the gateways' secret; curve: [cert, server cert] or nil.
    def initialize(broker, gateway, secret_file:, curve: nil, name: "rails")
      port = HeraldHarness.free_port
      @base = "http://127.0.0.1:#{port}"
      env = { "RAILS_ENV" => "live", "RAILS_APP_LOG" => "/dev/stdout",
              "APP_GATEWAY_URL" => gateway.url, "APP_HERALD_INGEST" => broker.ingest,
              "APP_HERALD_CONTROL" => broker.control, "APP_HERALD_SECRET_FILE" => secret_file,
              "APP_HERALD_CURVE_CERT" => curve&.first, "APP_HERALD_CURVE_SERVER" => curve&.last }
      ENV.each_key { |k| env[k] = nil if k.start_with?("HERALD_") && k != "HERALD_BIN" }
      super([RbConfig.ruby, File.join(APP_ROOT, "bin", "serve"), port.to_s], env: env, name: name)
    end

    # Waits until the app answers HTTP (Rails boots in ~2 s).
    def wait_ready(timeout: 15)
      HeraldHarness.wait_until("the Rails app to serve #{@base}", timeout: timeout) do
        raise Minitest::Assertion, "the Rails app exited at boot:\n#{output}" unless alive?

        HeraldHarness.http_status("#{@base}/") == 200
      end
      self
    end

    def get(path)
      Net::HTTP.get_response(URI("#{@base}#{path}"))
    end

    # POSTs a form; returns the response.
    def post(path, form = {})
      Net::HTTP.post_form(URI("#{@base}#{path}"), form.transform_keys(&:to_s))
    end

    # POSTs and parses a JSON answer; fails with the app's log on a non-200.
    def post_json(path, form = {})
      res = post(path, form)
      raise Minitest::Assertion, "POST #{path}: #{res.code}\n#{output[-4000..] || output}" unless res.code == "200"

      JSON.parse(res.body)
    end

    def get_json(path)
      res = get(path)
      raise Minitest::Assertion, "GET #{path}: #{res.code}\n#{output[-4000..] || output}" unless res.code == "200"

      JSON.parse(res.body)
    end

    # The page's herald-url and herald-token meta tags, for user.
    def meta_for(user)
      body = get("/?as=#{user}").body
      [body[/<meta name="herald-url" content="([^"]+)"/, 1], body[/<meta name="herald-token" content="([^"]+)"/, 1]]
    end

    # SIGTERM; true when the server exited by itself (its at_exit ran)
    # within timeout seconds, else it is killed and false returned.
    def terminate(timeout: 5)
      signal("TERM")
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      while alive?
        if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
          kill
          return false
        end
        sleep 0.02
      end
      true
    end
  end

  module_function

  # A temporary directory holding the gateways' secret in a file.
  def secret_dir
    dir = Dir.mktmpdir("herald-rails-live-")
    File.write(File.join(dir, "secret"), "#{HeraldHarness::SECRET}\n")
    dir
  end

  # The value of one sample line ("name{labels} value") in a /metrics text, or 0.
  def sample(metrics_text, key)
    line = metrics_text.each_line.find { |l| l.start_with?("#{key} ") }
    line ? line.split.last.to_f : 0
  end
end
