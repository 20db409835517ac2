# herald/view_helper.rb -- Rails view helpers that hand herald.js its gateway URL and a token.
module Herald
  # Included into every view by the Railtie. In the layout's <head>:
  #
  #   <%= herald_meta_tags %>
  #
  # emits <meta name="herald-url" content="ws://..."> (config.gateway_url)
  # and, when there is a user, <meta name="herald-token" content="eyJ...">
  # minted by Herald.token for current_user (or the user given). The
  # page's script reads them:
  #
  #   const meta = (n) => document.querySelector(`meta[name="herald-${n}"]`)?.content;
  #   if (meta("token")) herald.connect(meta("url"), { token: meta("token") });
  #
  # A token is a credential for its user: do not put these tags in pages
  # that are cached and shared between users.
  module ViewHelper
    # user: a user id or model (default: current_user when the view has
    # one); ttl:, channels:, aud:, iss: as for Herald.token; url: instead
    # of config.gateway_url.
    def herald_meta_tags(user = :current, url: nil, **token_opts)
      tags = [tag.meta(name: "herald-url", content: url || Herald.config.gateway_url)]
      token = herald_token_tag(user, **token_opts)
      tags << token if token
      safe_join(tags, "\n")
    end

    # Only the token's meta tag, or nil when there is no user.
    def herald_token_tag(user = :current, **token_opts)
      user = s_herald_current_user if user == :current
      return nil if user.nil?

      tag.meta(name: "herald-token", content: Herald.token(user, **token_opts))
    end

    private

    def s_herald_current_user
      respond_to?(:current_user, true) ? current_user : nil
    end
  end
end
