# herald-notify.gemspec -- the Ruby producer client of Herald (the gem herald-notify, `require "herald"`).
require_relative "lib/herald/version"

Gem::Specification.new do |s|
  # "herald" on rubygems.org is an unrelated gem; this name was chosen
  # without access to the registry (see README.md, *Installing*).
  s.name = "herald-notify"
  s.version = Herald::VERSION
  s.summary = "Push notifications from a Ruby/Rails backend to browsers through Herald"
  s.description = "Producer client for the Herald broker: Herald.notify over a ZeroMQ PUSH socket " \
                  "(never blocking, fork-safe), presence queries, HS256 tokens for herald.js, and for Rails " \
                  "a Railtie, a view helper and a test adapter."
  s.authors = ["Herald developers"]
  s.license = "MIT"
  s.files = Dir[File.join(__dir__, "lib/**/*.rb")].map { |f| f.delete_prefix("#{__dir__}/") } + ["README.md"]
  s.require_paths = ["lib"]
  s.required_ruby_version = ">= 3.0"
  s.add_runtime_dependency "ffi-rzmq", "~> 2.0"
  s.add_runtime_dependency "msgpack", ">= 1.4"
  s.add_runtime_dependency "jwt", ">= 2.5"
  s.add_development_dependency "minitest", ">= 5.15"
end
