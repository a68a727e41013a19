"""The offline demo: a bundled local site imitating a blog and the HN, Reddit and Discourse APIs."""
